package objectstore

// SetPartSize makes multipart uploads of st use parts of n bytes (S3's minimum is 5 MiB).
func SetPartSize(st *Store, n int64) { st.partSize = n }
