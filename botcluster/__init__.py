"""botcluster: answers chat-site messages with fine-tuned models on a cluster of LLM hosts."""

__version__ = "0.1.0"
