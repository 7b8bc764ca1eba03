"""Microphones and speakers: WAV files now, sound devices behind the same interfaces."""
