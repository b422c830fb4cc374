"""Files copied into every deployment bundle, to run on the board.

They import only the standard library and numpy (and pynq for the hardware), and keep to
Python 3.8 syntax (PYNQ 2.7's Python); ``tests/test_deploy_words.py`` parses them as 3.8.
"""
