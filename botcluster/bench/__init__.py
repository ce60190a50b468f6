"""`botcluster bench`: scheduling strategies compared on simulated clusters."""
