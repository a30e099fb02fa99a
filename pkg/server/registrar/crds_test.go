package registrar_test

// crdDir holds the CRDs the tests install: minimal schema-less ones until
// deploy/k8s carries the generated CRDs with OpenAPI validation.
const crdDir = "testdata/crds"
