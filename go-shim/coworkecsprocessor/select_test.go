package coworkecsprocessor

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/cowork-ecs/cowork-ecs/go-shim/internal/cffi"
)

// The screening reads what it screens for from the library (README "ABI
// conventions"): the mapping-mode attribute and thresholds inside the
// transform's own limits, so whatever Rust would bound reaches Rust.
func TestScreeningComesFromTheLibraryLimits(t *testing.T) {
	l := cffi.TransformLimits()
	assert.Equal(t, 20, l.MaxFieldDepth)
	assert.Equal(t, 1000, l.MaxFields)
	assert.Equal(t, "elastic.mapping.mode", mappingModeAttribute)
	assert.Equal(t, cffi.MappingModeAttribute(), mappingModeAttribute)
	assert.Less(t, quietKeyDots+1+l.AttributePrefixDepth, l.MaxFieldDepth)
	assert.Less(t, quietAttributes, l.MaxFields)

	// A key one dot past the threshold, and one attribute past it, are
	// not quiet: Rust sees them.
	deep := pcommon.NewMap()
	deep.PutStr(strings.Repeat("a.", quietKeyDots+1)+"z", "v")
	assert.False(t, quietAttrs(deep))
	many := pcommon.NewMap()
	for i := 0; i <= quietAttributes; i++ {
		many.PutInt(fmt.Sprintf("k%d", i), int64(i))
	}
	assert.Equal(t, quietAttributes+1, many.Len())
	assert.False(t, quietAttrs(many))
	ok := pcommon.NewMap()
	ok.PutStr(strings.Repeat("a.", quietKeyDots)+"z", "v")
	assert.True(t, quietAttrs(ok))
}
