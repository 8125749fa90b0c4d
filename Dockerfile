# acd as a container image (used by docker-compose.yml), with its hot path compiled
# (README, "Compiled build"): gcc only while building, then removed.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml setup.py README.md ./
COPY acd ./acd
COPY asterisk ./asterisk
COPY webui ./webui
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev \
    && pip install --no-cache-dir -e '.[compile]' \
    && ACD_COMPILE=1 pip install --no-cache-dir --no-build-isolation --no-deps -e . \
    && python -c "from acd import hot_path; assert hot_path.describe() == hot_path.COMPILED" \
    && rm -rf build \
    && apt-get purge -y gcc libc6-dev && apt-get autoremove -y && rm -rf /var/lib/apt/lists/*
ENV ACD_CONFIG=/etc/acd/acd.toml
EXPOSE 8000
CMD ["sh", "-c", "exec acd serve --config \"$ACD_CONFIG\""]
