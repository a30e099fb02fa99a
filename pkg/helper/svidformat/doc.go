// Package svidformat turns Workload API material (X.509-SVIDs, X.509 and
// JWT bundles, JWT-SVIDs) into the files spiffe-helper writes, byte for
// byte where spiffe-helper defines a format, plus opt-in extras: PKCS#1 or
// SEC1 key encoding, an HAProxy-style combined cert+key file and PKCS#12
// keystore/truststore files for Java.
//
// The result is a []svidfile.File; writing it to disk (atomically, as one
// set) is svidfile's job.
package svidformat
