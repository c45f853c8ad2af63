"""Neuromorphic hardware export (Loihi fixed point, NetX HDF5, NIR, event files).

Not implemented yet; see the project's issues.  Target profiles will be read
from the top-level ``hardware/`` folder.
"""
