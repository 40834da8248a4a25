"""The paper's method (Wang, Song & Zhang 2023): the autoencoder, the latent GAN, the inversion
encoder E_z, and the three ways to find a latent code for a damaged image."""
