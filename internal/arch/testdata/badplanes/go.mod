// The fixture of internal/arch: a module laid out like Tessera's, with one
// planted violation of each architecture rule next to clean packages. It
// requires nothing: the rules read import paths, not the imported code.
module example.test/badplanes

go 1.26
