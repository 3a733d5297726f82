# migraseg on the official PyTorch CUDA runtime image.
#   docker build -t migraseg .
#   docker run --gpus all -v $PWD/outputs:/app/outputs migraseg migraseg-train experiment=quickstart
FROM pytorch/pytorch:2.7.1-cuda12.6-cudnn9-runtime

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    NO_ALBUMENTATIONS_UPDATE=1 \
    PIP_NO_CACHE_DIR=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY migraseg ./migraseg
COPY configs ./configs
COPY scripts ./scripts
# Editable install: the Hydra configs are read from /app/configs.
RUN pip install -e . && migraseg-train --help > /dev/null

CMD ["migraseg-train", "--help"]
