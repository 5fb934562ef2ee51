"""Renderers: Rich renderables for the terminal and JSON documents. They never compute."""
