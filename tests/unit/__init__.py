"""Unit tests, laid out as the package is: a folder per subpackage of toy_platform, the shared
kit's tests (and the build hook's) at the top."""
