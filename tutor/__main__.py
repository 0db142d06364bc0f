"""`python -m tutor` is the same as the `backprop-ninja` command."""

from tutor.cli import run

if __name__ == "__main__":
    run()
