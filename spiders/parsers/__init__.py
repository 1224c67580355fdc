"""Pure parsers: bytes or JSON in, plain values or records out.

Fetching lives in the spiders; everything here can be tested on recorded or documented
shapes without a network or a reactor.
"""
