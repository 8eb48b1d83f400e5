import { defineConfig } from 'vitest/config';

// One run over every workspace: unit tests beside the code, end-to-end tests in test/.
export default defineConfig({
  test: {
    projects: ['packages/*', 'firmware-sim', 'edge', 'cloud', 'test'],
  },
});
