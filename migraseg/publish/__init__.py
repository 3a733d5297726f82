"""Publishing trained models: bioimage.io packages and model cards."""
