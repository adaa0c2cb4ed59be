# One image for every process (portals, worker, beat, migrate); docker-compose.yml picks the command.
FROM python:3.11-slim-bookworm
RUN apt-get update && apt-get install -y --no-install-recommends nodejs npm make && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY requirements.txt pyproject.toml ./
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
RUN pip install --no-cache-dir --no-deps -e . \
 && npm install --prefix .tools bun@1.4.4 \
 && bash scripts/portal.sh build dmt_app && bash scripts/portal.sh build admin_app
ENV PYTHONPATH=/app
