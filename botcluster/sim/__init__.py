"""Simulated LM Studio / Ollama / llama.cpp hosts for tests, benchmarks and capacity planning.

See docs/SIMULATOR.md. The public API is `SimCluster` and the spec dataclasses.
"""

from botcluster.sim.cluster import SimCluster
from botcluster.sim.spec import (
                                 ClusterSpec,
                                 FaultSpec,
                                 HazardSpec,
                                 HostSpec,
                                 ModelSpec,
                                 cluster_from_dict,
                                 load_cluster,
)

__all__ = ["ClusterSpec", "FaultSpec", "HazardSpec", "HostSpec", "ModelSpec", "SimCluster",
           "cluster_from_dict", "load_cluster"]
