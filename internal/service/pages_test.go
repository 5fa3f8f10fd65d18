package service

import "testing"

// describePages calls describe with each marker it returns, from none until it returns none, and gives the
// names of the items of every page and each page's size.
func describePages(t *testing.T, describe func(marker *string) (names []string, next *string, err error)) (names []string, sizes []int) {
	t.Helper()
	var marker *string
	for {
		page, next, err := describe(marker)
		if err != nil {
			t.Fatal(err)
		}
		names, sizes = append(names, page...), append(sizes, len(page))
		if next == nil {
			return names, sizes
		}
		marker = next
	}
}
