"""Tests of the deployment files: images, compose, nginx, scripts, CI."""
