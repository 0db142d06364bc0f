# Says where it runs, then loops: lets a test kill the tutor mid-check and look for the child by PID.
import os
from pathlib import Path

Path(__file__).with_suffix(".pid").write_text(str(os.getpid()))
while True:
    pass
