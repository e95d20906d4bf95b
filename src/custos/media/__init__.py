"""Media: H.264/H.265 bitstreams, fragmented MP4 writing and reading, clip assembly. No decoding."""
