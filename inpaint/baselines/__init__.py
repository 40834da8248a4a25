"""The compared systems: classical inpainting (Telea, Navier-Stokes, biharmonic) and the
retrained learned baselines (PConv, Gated Conv) with their networks and losses."""
