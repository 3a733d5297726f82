import pytest
import torch

from migraseg.models import build_model

TINY = {"encoder_name": "tu-test_resnet", "encoder_depth": 3, "decoder_channels": (16, 8, 8)}


@pytest.mark.parametrize("in_channels", [1, 2])
@pytest.mark.parametrize("size", [(64, 64), (96, 160)])
def test_forward_backward_shapes(in_channels, size):
    net = build_model(**TINY, in_channels=in_channels)
    x = torch.randn(2, in_channels, *size, requires_grad=True)
    out = net(x)
    assert out.shape == (2, 4, *size)
    out.mean().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()


def test_unknown_architecture_lists_valid_ones():
    with pytest.raises(KeyError, match=r"choose one of .*unet"):
        build_model(arch="segformerx")


def test_decoder_must_match_depth():
    with pytest.raises(ValueError, match="decoder_channels has 2 entries"):
        build_model(encoder_name="tu-test_resnet", encoder_depth=3, decoder_channels=(8, 8))


def test_misspelled_keyword_is_a_type_error():
    with pytest.raises(TypeError):
        build_model(**TINY, decoder_chanels=(8, 8, 8))


def test_no_pretrained_weights_by_default():
    import inspect

    assert inspect.signature(build_model).parameters["encoder_weights"].default is None
