package analytics

// RawOnly returns a copy of s whose figures read the raw events only, never
// the rollups, for comparing the two.
func RawOnly(s *Service) *Service {
	c := *s
	c.rawOnly = true
	return &c
}
