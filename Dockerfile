# Advocate: the Slack app in one small image.
#   docker build -t advocate .
#   docker run --env-file .env -p 3000:3000 -v advocate-data:/data advocate
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

# A fixed, non-root user; /data (the SQLite database) belongs to it. The ownership must be
# set before VOLUME, and a new named volume starts with it.
RUN groupadd --gid 10001 advocate \
    && useradd --uid 10001 --gid advocate --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin advocate \
    && mkdir /data \
    && chown advocate:advocate /data

# The dependencies first, read from pyproject.toml, in a layer of their own: a change to the
# code alone rebuilds only the layers below, without downloading them again.
WORKDIR /src
COPY pyproject.toml ./
RUN python -c "import tomllib; print(*tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies'], sep='\n')" > requirements.txt \
    && pip install --no-cache-dir -r requirements.txt

# The package and its migrations (migrations/ ships as bot._migrations, so it must be
# present before `pip install .`). The sources are removed once installed.
COPY README.md ./
COPY bot/ bot/
COPY migrations/ migrations/
RUN pip install --no-cache-dir --no-deps . \
    && rm -rf /src

ENV DATABASE_URL=sqlite:////data/advocate.db
VOLUME /data
WORKDIR /data
USER 10001:10001

EXPOSE 3000

# HTTP mode only: Socket Mode and `advocate scheduler` serve no HTTP (use --no-healthcheck).
# Requests http://127.0.0.1:${PORT:-3000}/healthz; a refused connection, a timeout or a 503 exits 1.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % (os.environ.get('PORT') or '3000'), timeout=4)"]

ENTRYPOINT ["advocate"]
CMD ["run"]
