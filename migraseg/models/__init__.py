from migraseg.models.factory import ARCHITECTURES, OUTPUT_STRIDE, build_model

__all__ = ["ARCHITECTURES", "OUTPUT_STRIDE", "build_model"]
