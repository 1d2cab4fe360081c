package rules

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
)

// maxFileBytes bounds one rule or test file: a larger one is an error, and
// no more than this is ever read from it.
const maxFileBytes = 1 << 20

// ErrNotRegularFile is returned for a rule or test file that is not a
// regular file (a FIFO, a device, a socket), or a symbolic link that
// leaves the rules folder or leads to no regular file.
var ErrNotRegularFile = errors.New("not a regular file")

// ErrFileTooLarge is returned for a rule or test file larger than 1 MiB.
var ErrFileTooLarge = errors.New("larger than the 1 MiB a rule file may have")

// folderFS is a rules folder as a file system that never leaves it: a
// symbolic link is followed only to a file inside the folder (os.Root;
// Kubernetes ConfigMaps link each file into a "..data" folder there), and
// files are opened without blocking, so a FIFO put in place after the
// folder was listed fails its type check instead of hanging the open.
type folderFS struct{ root *os.Root }

// openFolder opens dir as a folderFS; close it when done.
func openFolder(dir string) (folderFS, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return folderFS{}, err
	}
	return folderFS{root: root}, nil
}

// Open opens name read-only and non-blocking, inside the folder.
func (f folderFS) Open(name string) (fs.File, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrInvalid}
	}
	return f.root.OpenFile(name, openFlags, 0)
}

func (f folderFS) close() error { return f.root.Close() }

// typeName names the type of a file that is not a regular file.
func typeName(mode fs.FileMode) string {
	// A character device has ModeDevice too: it is named first.
	for _, t := range [...]struct {
		bit  fs.FileMode
		name string
	}{
		{fs.ModeDir, "a folder"},
		{fs.ModeSymlink, "a symbolic link"},
		{fs.ModeNamedPipe, "a FIFO"},
		{fs.ModeSocket, "a socket"},
		{fs.ModeCharDevice, "a character device"},
		{fs.ModeDevice, "a device"},
		{fs.ModeIrregular, "an irregular file"},
	} {
		if mode&t.bit != 0 {
			return t.name
		}
	}
	return "a " + mode.Type().String()
}

// readYAMLFiles returns the rule-file names in dir, sorted, with their
// bytes. Only regular files are read, and symbolic links to regular files
// inside the folder (see folderFS); anything else is an error naming the
// file and what it is, before it is opened. Errors never quote a file's
// content.
func readYAMLFiles(fsys fs.FS, dir string) ([]string, [][]byte, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, nil, err
	}
	var names []string
	var contents [][]byte
	for _, e := range entries {
		if e.IsDir() || !isRuleFile(e.Name()) {
			continue
		}
		name := path.Join(dir, e.Name())
		if t := e.Type(); !t.IsRegular() && t&fs.ModeSymlink == 0 {
			return nil, nil, fmt.Errorf("%s is %s: %w", name, typeName(t), ErrNotRegularFile)
		}
		data, err := readFile(fsys, name, e.Type()&fs.ModeSymlink != 0)
		if err != nil {
			return nil, nil, err
		}
		names = append(names, e.Name())
		contents = append(contents, data)
	}
	return names, contents, nil
}

// readFile reads a regular file of at most maxFileBytes; link says it was
// listed as a symbolic link.
func readFile(fsys fs.FS, name string, link bool) ([]byte, error) {
	f, err := fsys.Open(name)
	if err != nil {
		if link {
			return nil, fmt.Errorf("%s is a symbolic link that leaves the rules folder or leads nowhere (%w): %w", name, ErrNotRegularFile, err)
		}
		return nil, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !info.Mode().IsRegular() {
		what := typeName(info.Mode())
		if link {
			what = "a symbolic link to " + what
		}
		return nil, fmt.Errorf("%s is %s: %w", name, what, ErrNotRegularFile)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	if len(data) > maxFileBytes {
		return nil, fmt.Errorf("%s: %w", name, ErrFileTooLarge)
	}
	return data, nil
}
