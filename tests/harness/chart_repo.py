"""A Helm chart repository on 127.0.0.1 serving the charts made by this project under tests/charts (stand-ins
for the upstream charts platform_cluster_services installs): each chart is packaged with the real
``helm package``, indexed with ``helm repo index --url``, and served by a small threaded HTTP server that is
stopped at teardown. Every request is logged in ``requests`` so a test can tell what helm fetched."""

from __future__ import annotations

import functools
import http.server
import subprocess
import threading
from pathlib import Path
from typing import List, Optional

from .paths import REPO_ROOT

CHARTS_DIR = REPO_ROOT / "tests" / "charts"
HELM = REPO_ROOT / ".tools" / "bin" / "helm"


class _Handler(http.server.SimpleHTTPRequestHandler):
    log: List[str]

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - the base class's name
        self.log.append(self.path)


class ChartRepository:
    """Packages ``charts`` into ``workdir`` and serves them: ``url`` is the repository URL for helm."""

    def __init__(self, workdir: Path, charts: Optional[List[Path]] = None, helm: Path = HELM):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.charts = charts or sorted(p for p in CHARTS_DIR.iterdir() if (p / "Chart.yaml").is_file())
        self.helm = helm
        self.requests: List[str] = []
        self._server: Optional[http.server.ThreadingHTTPServer] = None
        self._thread: Optional[threading.Thread] = None
        self.url = ""

    def _helm(self, *args: str) -> None:
        subprocess.run([str(self.helm), *args], check=True, capture_output=True, text=True, timeout=120)

    def start(self) -> "ChartRepository":
        handler = functools.partial(_Handler, directory=str(self.workdir))
        _Handler.log = self.requests
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        for chart in self.charts:
            self._helm("package", str(chart), "--destination", str(self.workdir))
        self._helm("repo", "index", str(self.workdir), "--url", self.url)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
