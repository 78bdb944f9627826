"""One HTTP/1.1 GET with the standard library only (asyncio.open_connection), as the Python asyncio bench makes it
on both sides (jobs/pyfetch.py through longhaul, jobs/pyfetchbare.py without): a new connection per call, the body
read to its Content-Length, parsed as JSON."""
import asyncio
import json
from urllib.parse import urlsplit


async def get_json(url):
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    try:
        writer.write(f"GET {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\nConnection: close\r\n\r\n".encode())
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:"))
        body = await reader.readexactly(length)
    finally:
        writer.close()
    if status != 200:
        raise RuntimeError(f"HTTP {status} from {url}")
    return json.loads(body)
