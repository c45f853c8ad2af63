"""Training of spiking networks (Norse + torch): ST-RSBP and the hybrid-spiking LMU.

Not implemented yet; see the project's issues.  Kept as the place where the
training half slots in beside :mod:`snnkit.dynamics`.
"""
