"""The vault reader stays light: importing it loads no model runtime, daemon or CLI code."""

from __future__ import annotations

import json
import subprocess
import sys

FORBIDDEN = ("onnxruntime", "torch", "watchdog", "click")


def test_vault_imports_nothing_heavy() -> None:
    code = (
        "import json, sys\n"
        "import vaultkd.vault, vaultkd.vault.graph, vaultkd.vault.inline\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = json.loads(out.stdout)
    bad = [m for m in loaded if m.split(".")[0] in FORBIDDEN]
    assert bad == [], f"importing vaultkd.vault loaded {bad}"
    assert "vaultkd.vault.parse" in loaded and "networkx" in loaded
