"""Training of spiking networks (Norse + torch): ST-RSBP and the hybrid-spiking LMU."""

import warnings

# torch 2.x flags every CSR tensor as "beta"; the products snnkit uses (S-PSP readout, sparse
# feed-forward currents) are long-standing.
warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
