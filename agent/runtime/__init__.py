"""The agent's adapters to the container engine: the only package that imports ``docker``."""
