// Package layers holds no code: its test checks that ecache's packages depend on each other only in
// the directions docs/ARCHITECTURE.md draws.
package layers
