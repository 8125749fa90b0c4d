# acd as a container image (used by docker-compose.yml).
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY acd ./acd
COPY asterisk ./asterisk
COPY webui ./webui
RUN pip install --no-cache-dir -e .
ENV ACD_CONFIG=/etc/acd/acd.toml
EXPOSE 8000
CMD ["sh", "-c", "exec acd serve --config \"$ACD_CONFIG\""]
