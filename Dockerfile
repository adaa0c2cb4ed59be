# One image for every process (portals, worker, beat, migrate); docker-compose.yml picks the command.
# The build runs as root (packages, the portals' frontend); the processes run as the unprivileged user
# `dmt`, who may write only to the data folder (exports, archives: a volume shared by the containers),
# the portals' build folders (a copy of the static files when a portal serves another port) and the
# on-disk page state used without Redis.
FROM python:3.11-slim-bookworm
RUN apt-get update && apt-get install -y --no-install-recommends nodejs npm make && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY requirements.txt pyproject.toml ./
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
RUN pip install --no-cache-dir --no-deps -e . \
 && npm install --prefix .tools bun@1.4.4 \
 && bash scripts/portal.sh build dmt_app && bash scripts/portal.sh build admin_app \
 && rm -rf /root/.npm /root/.cache
RUN groupadd --system --gid 10001 dmt \
 && useradd --system --uid 10001 --gid dmt --home-dir /home/dmt --create-home --shell /usr/sbin/nologin dmt \
 && mkdir -p .data/exports .data/archives .states-dmt_app .states-admin_app \
 && chown dmt:dmt .data .data/exports .data/archives .states-dmt_app .states-admin_app .web-dmt_app .web-admin_app
ENV PYTHONPATH=/app PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 HOME=/home/dmt
USER dmt:dmt
