FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY wabridge ./wabridge
COPY bridge ./bridge
COPY whatsapp ./whatsapp
COPY storage ./storage
COPY webhook_server ./webhook_server
COPY slack_app ./slack_app
COPY scheduler ./scheduler
COPY sandbox ./sandbox
RUN pip install --no-cache-dir . && useradd --system --uid 10001 wabridge
USER wabridge
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --retries=5 \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/readyz').status == 200 else 1)"
# serve applies pending migrations before it listens
CMD ["wabridge", "serve", "--host", "0.0.0.0", "--port", "8000"]
