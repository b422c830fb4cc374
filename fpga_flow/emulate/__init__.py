"""Bit-exact emulation of a converted hls4ml design in integer numpy arithmetic."""
