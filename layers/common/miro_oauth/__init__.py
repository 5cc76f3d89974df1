"""Shared code of the Miro OAuth callback: the layer every function uses."""
