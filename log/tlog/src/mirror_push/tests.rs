//! Unit tests of the mirror-push codecs and limits.
