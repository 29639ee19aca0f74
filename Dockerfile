# Halsaram bot / worker image: slim, non-root, dependencies pinned by hash.
#   docker build -t halsaram .
#   docker run --env-file .env halsaram run --webhook https://bot.example.com
FROM python:3.11.14-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    HALSARAM_LOG_FORMAT=json \
    HALSARAM_DATA_DIR=/data

# A CJK font, so the check-in QR images carry readable Korean titles.
RUN apt-get update \
    && apt-get install -y --no-install-recommends fonts-noto-cjk \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 halsaram \
    && mkdir -p /data && chown halsaram /data

WORKDIR /app
COPY requirements.prod.lock ./
RUN pip install --require-hashes -r requirements.prod.lock
COPY pyproject.toml alembic.ini ./
COPY alembic ./alembic
COPY bot ./bot
COPY handlers ./handlers
COPY conversations ./conversations
COPY storage ./storage
COPY verification ./verification
COPY scheduler ./scheduler
COPY missions ./missions
COPY sandbox ./sandbox
# Editable, so Alembic finds its scripts beside the code.
RUN pip install --no-deps -e .

USER halsaram
EXPOSE 8443 9100
ENTRYPOINT ["halsaram"]
CMD ["run"]
