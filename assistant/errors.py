"""Errors a user can act on: the CLI prints them as one line, never as a traceback."""


class UserError(Exception):
    """Something the user can fix; `str()` names the culprit and says what to do."""

    exit_code = 1


class ConfigError(UserError):
    """A bad config file or value."""

    exit_code = 2


class AudioFileError(UserError):
    """An input audio file that is missing, empty or not audio: a bad argument, so exit status 2."""

    exit_code = 2


class ModelError(UserError):
    """A model file that is missing, corrupt or cannot be fetched."""

    exit_code = 2  # like a bad config: the setup is wrong, and the message says how to fix it
    hint = "run `voice-assistant models pull`"


class NoDeviceError(UserError):
    """No sound device to use at all (no sound card, or no sound server): the setup is wrong, so exit status 2."""

    exit_code = 2


class NoMicrophoneError(UserError):
    """No capture device: the TUI says so and points at --input instead of failing on the first frame."""

    def __init__(self, message: str, exit_code: int = UserError.exit_code) -> None:
        super().__init__(message)
        self.exit_code = exit_code  # no sound devices at all is a setup error (2), like NoDeviceError
