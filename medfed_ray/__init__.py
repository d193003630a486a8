"""medfed-ray: a simulator of federated learning between hospitals on Ray."""

__version__ = "0.1.0"
