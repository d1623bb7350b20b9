module.exports = { ...require('../../jest.preset.js'), displayName: 'carve-cli', rootDir: __dirname };
