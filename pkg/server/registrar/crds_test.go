package registrar_test

// crdDir holds the CRDs the tests install: the generated ones in
// deploy/k8s, with their OpenAPI validation, so the schema is tested too.
const crdDir = "../../../deploy/k8s/crds"
