# migraseg on the official PyTorch CUDA runtime image (CUDA, cuDNN, NCCL and PyTorch included).
#   docker build -t migraseg .
#   docker run --rm --gpus all --ipc=host -v "$PWD/data:/app/data" -v "$PWD/outputs:/app/outputs" \
#       migraseg migraseg-train experiment=quickstart trainer=gpu
# One stage is enough: the base already holds the large CUDA layers, and migraseg and its other
# dependencies install from wheels without compilers, so a build stage would save nothing.
ARG BASE_IMAGE=pytorch/pytorch:2.7.1-cuda12.6-cudnn9-runtime
FROM ${BASE_IMAGE}

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    NO_ALBUMENTATIONS_UPDATE=1 \
    HF_HUB_OFFLINE=1 \
    MPLCONFIGDIR=/tmp/matplotlib

WORKDIR /app
# Dependencies first (cached while only the code changes); keep the base image's torch build.
# The publish extra brings ONNX Runtime (CPU inference) and bioimageio.core (packages).
# setup.py ships configs/ as migraseg/configs in wheels; an empty configs/ stands in for now.
COPY pyproject.toml setup.py MANIFEST.in README.md ./
RUN mkdir migraseg configs && touch migraseg/__init__.py \
    && python -c "import torch, torchvision; print(f'torch=={torch.__version__}\ntorchvision=={torchvision.__version__}')" > /tmp/constraints.txt \
    && pip install --no-cache-dir -c /tmp/constraints.txt -e ".[publish]" \
    && rm -rf migraseg configs

COPY migraseg ./migraseg
COPY configs ./configs
COPY scripts ./scripts
# Editable install: Hydra reads its configs from /app/configs next to the package.
RUN pip install --no-cache-dir --no-deps -e . \
    && useradd --create-home --uid 1000 --shell /bin/bash migraseg \
    && mkdir -p /app/data /app/outputs /app/multirun \
    && chown migraseg:migraseg /app/data /app/outputs /app/multirun \
    && migraseg-train --help > /dev/null

USER 1000:1000
CMD ["migraseg-train", "--help"]
