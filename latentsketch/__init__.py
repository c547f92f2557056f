"""latentsketch: a live instrument over the latent space of a VAE."""

__version__ = "0.1.0"  # fallback when the package metadata is missing (run from a source tree)
