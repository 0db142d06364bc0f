# A helper in its own session (setsid): outside the child's process group, it must still die with the check.
import subprocess
import sys
from pathlib import Path

helper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"], start_new_session=True)
Path(__file__).with_suffix(".pid").write_text(str(helper.pid))
dlogprobs = torch.zeros_like(logprobs)
