"""The shared bottom layer of the networks: building blocks and measures that every family
(the paper's, the baselines', the upsamplers') uses and that depend on none of them."""
