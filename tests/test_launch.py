import subprocess
import sys

# sleeps before importing: the age must count from the process start, not from the import
PROBE = ("import time; time.sleep(0.5); from assistant.launch import launched_at; "
         "print(time.monotonic() - launched_at())")


def test_launch_time_counts_from_the_process_start():
    age = float(subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True).stdout)
    assert 0.5 <= age < 5.0
